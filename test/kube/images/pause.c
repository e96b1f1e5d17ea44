/* The pod sandbox's process (what the CRI calls the sandbox image): it holds the pod's namespaces
 * open, reaps whatever is re-parented to it, and exits on SIGTERM or SIGINT. Built statically by
 * test/kube/images.sh. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) {
  (void)sig;
  _exit(0);
}

static void on_child(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  signal(SIGTERM, on_stop);
  signal(SIGINT, on_stop);
  signal(SIGCHLD, on_child);
  for (;;) pause();
}
