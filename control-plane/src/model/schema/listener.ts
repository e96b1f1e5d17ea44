// A listener the application connects to.
import { z } from 'zod';
import { dnsLabel, isIpAddress, port, strict } from './common.ts';
import { route } from './route.ts';

export const httpListener = strict({
  name: dnsLabel('listener name'),
  port,
  address: z.string().refine((a) => isIpAddress(a), { error: 'expected an IP address such as 127.0.0.1, 0.0.0.0 or ::1' }).default('127.0.0.1'),
  protocol: z.literal('http', { error: 'expected "http"' }).default('http'),
  routes: z.array(route).min(1, { error: 'expected at least one route' }),
});
