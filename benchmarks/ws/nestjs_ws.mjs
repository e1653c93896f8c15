// NestJS 12 benchmark peer on @nestjs/platform-ws (NestJS's WsAdapter), written in plain
// JavaScript: the decorators are applied with Reflect.decorate, as tsc would emit them.
// Prints "READY <port>" once listening on 127.0.0.1.   node nestjs_ws.mjs --port P
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WsAdapter } from '@nestjs/platform-ws';
import { SubscribeMessage, WebSocketGateway, WebSocketServer } from '@nestjs/websockets';

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

class BenchGateway {
  // request/reply: the handler's return value is the reply (sent as JSON text)
  echo(client, data) {
    return data;
  }

  // broadcast: `burst` frames to every client, each encoded once, then a reply
  fanout(client, data) {
    const frame = JSON.stringify({ event: 'tick', data: data.payload });
    for (let i = 0; i < data.burst; i++) {
      for (const c of this.server.clients) c.send(frame);
    }
    return { event: 'done', data: data.burst };
  }
}
Reflect.decorate([WebSocketServer()], BenchGateway.prototype, 'server', undefined);
for (const [event, name] of [['echo', 'echo'], ['fanout', 'fanout']]) {
  const desc = Object.getOwnPropertyDescriptor(BenchGateway.prototype, name);
  Object.defineProperty(BenchGateway.prototype, name,
    Reflect.decorate([SubscribeMessage(event)], BenchGateway.prototype, name, desc));
}
const Gateway = Reflect.decorate([WebSocketGateway({ path: '/ws' })], BenchGateway);

class AppModule {}
const App = Reflect.decorate([Module({ providers: [Gateway] })], AppModule);

const port = Number(arg('--port', '0'));
const app = await NestFactory.create(App, { logger: ['error', 'warn'] });
app.useWebSocketAdapter(new WsAdapter(app));
app.enableShutdownHooks();
await app.listen(port, '127.0.0.1');
process.stdout.write(`READY ${app.getHttpServer().address().port}\n`);
