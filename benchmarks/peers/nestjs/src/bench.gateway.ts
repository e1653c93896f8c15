// The /bench contract (docs/performance.md) as an idiomatic NestJS gateway.
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import type { Namespace, Socket } from 'socket.io';

interface FanoutRequest {
  count: number;
  room: string | null;
  t: number;
  payload: unknown;
}

// Port 0: share the application's HTTP server (bound to 127.0.0.1 by main.ts).
@WebSocketGateway(0, { namespace: 'bench', cors: { origin: '*' }, perMessageDeflate: false })
export class BenchGateway {
  @WebSocketServer()
  server: Namespace;

  @SubscribeMessage('echo')
  echo(@MessageBody() data: unknown): unknown {
    return data;
  }

  @SubscribeMessage('join')
  async join(
    @MessageBody() data: { room: string },
    @ConnectedSocket() client: Socket,
  ): Promise<boolean> {
    await client.join(data.room);
    return true;
  }

  @SubscribeMessage('fanout')
  fanout(@MessageBody() msg: FanoutRequest): boolean {
    const target = msg.room ? this.server.to(msg.room) : this.server;
    for (let seq = 0; seq < msg.count; seq++) {
      target.emit('tick', { seq, t: msg.t, data: msg.payload });
    }
    return true;
  }
}
