import { Inject, Injectable } from '@nestjs/common';
import { TransactionRunner } from '../persistence/transaction.js';

/** The generated default users (auth_generated_users); only bcrypt hashes are stored. */
@Injectable()
export class GeneratedUserRepository {
  constructor(@Inject(TransactionRunner) private readonly tx: TransactionRunner) {}

  async hashOf(username: string): Promise<string | undefined> {
    const rows = await this.tx.db.query<{ password_hash: string }>(
      'SELECT password_hash FROM auth_generated_users WHERE username = $1',
      [username],
    );
    return rows[0]?.password_hash;
  }

  /**
   * Stores the hash unless the user exists already (another replica may be starting at the
   * same moment); true when this call created it.
   */
  async create(username: string, passwordHash: string): Promise<boolean> {
    const rows = await this.tx.db.query(
      `INSERT INTO auth_generated_users (username, password_hash) VALUES ($1, $2)
       ON CONFLICT (username) DO NOTHING RETURNING username`,
      [username, passwordHash],
    );
    return rows.length === 1;
  }
}
