import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

/**
 * moto_server (a local AWS API emulator, from the machine image's Python) for tests of the AWS paths over the
 * real wire. Tests that need it run where it is on PATH and say clearly when it is not.
 */
export const hasMotoServer = spawnSync('moto_server', ['-h'], { encoding: 'utf8' }).status === 0;

/** Prints the skip notice CI shows when moto_server is missing (call it at the top of a test file). */
export function warnWithoutMoto(what: string): void {
  if (!hasMotoServer) {
    console.warn(
      `SKIPPED: ${what} against moto_server — moto_server is not on PATH (pip install "moto[server]").`,
    );
  }
}

export const MOTO_ACCOUNT = '123456789012';
export const MOTO_REGION = 'eu-west-2';
export const MOTO_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' } as const;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface MotoServer {
  readonly endpoint: string;
  stop(): void;
}

/** Starts moto_server on a free port and waits until it answers. */
export async function startMotoServer(): Promise<MotoServer> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const moto: ChildProcess = spawn('moto_server', ['-p', String(port)], { stdio: 'ignore' });
  for (let attempt = 0; ; attempt++) {
    try {
      await fetch(`${endpoint}/moto-api/`);
      break;
    } catch (error) {
      if (attempt > 150) {
        moto.kill();
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return { endpoint, stop: () => moto.kill() };
}
