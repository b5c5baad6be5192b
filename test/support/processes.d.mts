import type { ChildProcess } from 'node:child_process';

export interface Served {
  child: ChildProcess;
  /** http://127.0.0.1:<port> */
  url: string;
  /** What it printed so far (stdout and stderr). */
  output(): string;
  exited: Promise<unknown>;
  /** Sends `signal` (SIGTERM: a clean stop) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}
/** The `sessionbeacon` command of the collector's package. */
export declare const CLI: string;
export declare function startServe(args: string[], options?: { timeout?: number }): Promise<Served>;

export declare const PG_BIN: string;
export declare function postgresAvailable(): boolean;
export interface Postgres {
  url(database: string): string;
  stop(): void;
}
export declare function startPostgres(options?: { durable?: boolean }): Postgres;
