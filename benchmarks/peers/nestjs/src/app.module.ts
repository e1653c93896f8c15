import { Module } from '@nestjs/common';
import { BenchGateway } from './bench.gateway.js';

@Module({ providers: [BenchGateway] })
export class AppModule {}
