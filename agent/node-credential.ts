import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from './spool.ts';

export const NODE_TOKEN_FILE = 'node-token';

/**
 * Where the agent keeps its node credential: `<state-dir>/node-token`, mode 0600 in a 0700 folder
 * (readable by no other uid). A systemd unit may also hand it in with
 * `LoadCredential=node-token:...` ($CREDENTIALS_DIRECTORY/node-token); the state folder wins,
 * since it holds the latest one the master issued.
 */
export class NodeCredentialStore {
  constructor(
    readonly stateDir: string,
    private readonly credentialsDir: string | undefined = process.env.CREDENTIALS_DIRECTORY,
  ) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    chmodSync(stateDir, 0o700);
  }

  get path(): string {
    return join(this.stateDir, NODE_TOKEN_FILE);
  }

  /** The stored credential and the file it came from, or null. */
  load(): { token: string; file: string } | null {
    const candidates = [this.path, ...(this.credentialsDir ? [join(this.credentialsDir, NODE_TOKEN_FILE)] : [])];
    for (const file of candidates) {
      if (!existsSync(file)) continue;
      const token = readFileSync(file, 'utf8').trim();
      if (token) return { token, file };
    }
    return null;
  }

  save(token: string): void {
    writeFileDurably(this.path, token + '\n', 0o600);
    chmodSync(this.path, 0o600);
  }
}
