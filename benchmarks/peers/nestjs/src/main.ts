// NestJS 12 benchmark peer. Prints "READY <port>" once listening on 127.0.0.1.
//   node dist/main.js [--port P] [--redis URL]      (port also from $BENCH_PORT; 0 = any)
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { AppModule } from './app.module.js';
import { RedisIoAdapter } from './redis-io.adapter.js';

function arg(name: string, fallback: string | null): string | null {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

async function bootstrap(): Promise<void> {
  const port = Number(arg('--port', process.env.BENCH_PORT ?? '0'));
  const redisUrl = arg('--redis', null);
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  if (redisUrl) {
    const adapter = new RedisIoAdapter(app);
    await adapter.connectToRedis(redisUrl);
    app.useWebSocketAdapter(adapter);
  }
  app.enableShutdownHooks();
  await app.listen(port, '127.0.0.1');
  const address = app.getHttpServer().address() as AddressInfo;
  process.stdout.write(`READY ${address.port}\n`);
}

bootstrap().catch((err) => {
  console.error(err);
  process.exit(1);
});
