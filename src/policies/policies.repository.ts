import { Injectable } from '@nestjs/common';
import type { Tx } from '../persistence/transaction.js';
import type { ReaderSummary } from './policy-evaluation.js';
import type { PolicyJson } from './model/policy.types.js';

/** A policy as stored: the document plus the system fields Ditto answers with. */
export interface StoredPolicy {
  policyId: string;
  namespace: string;
  doc: PolicyJson;
  revision: number;
  created: string;
  modified: string;
}

interface PolicyRow {
  policy_id: string;
  namespace: string;
  doc: PolicyJson;
  revision: string;
  created_at: Date;
  modified_at: Date;
}

const COLUMNS = 'policy_id, namespace, doc, revision, created_at, modified_at';

/** NOTIFY channel announcing a committed policy change (payload: the policy id) to every replica. */
export const POLICY_CHANNEL = 'twin_policy_changed';

function toStored(r: PolicyRow): StoredPolicy {
  return {
    policyId: r.policy_id,
    namespace: r.namespace,
    doc: r.doc,
    revision: Number(r.revision),
    created: r.created_at.toISOString(),
    modified: r.modified_at.toISOString(),
  };
}

/** The only place that speaks SQL about policies, their readers summary and their imports. */
@Injectable()
export class PoliciesRepository {
  async findOne(db: Tx, policyId: string): Promise<StoredPolicy | null> {
    const rows = await db.query<PolicyRow>(
      `SELECT ${COLUMNS} FROM policies WHERE policy_id = $1`,
      [policyId],
      { prepare: true },
    );
    return rows[0] ? toStored(rows[0]) : null;
  }

  async findMany(db: Tx, policyIds: readonly string[]): Promise<StoredPolicy[]> {
    if (policyIds.length === 0) return [];
    const rows = await db.query<PolicyRow>(
      `SELECT ${COLUMNS} FROM policies WHERE policy_id = ANY($1::text[])`,
      [policyIds],
      { prepare: true },
    );
    return rows.map(toStored);
  }

  /** The current revisions only, to check cached compilations without moving documents. */
  async revisions(db: Tx, policyIds: readonly string[]): Promise<Map<string, number>> {
    if (policyIds.length === 0) return new Map();
    const rows = await db.query<{ policy_id: string; revision: string }>(
      'SELECT policy_id, revision FROM policies WHERE policy_id = ANY($1::text[])',
      [policyIds],
      { prepare: true },
    );
    return new Map(rows.map((r) => [r.policy_id, Number(r.revision)]));
  }

  /**
   * The revisions of a policy and of the policies it imports (those that exist). The ids are
   * gathered first, so the lookup is by primary key (`id = $1 OR id IN (subquery)` scans them all).
   */
  async versionsOf(db: Tx, policyId: string): Promise<Map<string, number>> {
    const rows = await db.query<{ policy_id: string; revision: string }>(
      `SELECT policy_id, revision FROM policies WHERE policy_id = ANY(ARRAY(
         SELECT $1::text UNION ALL SELECT imported_policy_id FROM policy_imports WHERE policy_id = $1))`,
      [policyId],
      { prepare: true },
    );
    return new Map(rows.map((r) => [r.policy_id, Number(r.revision)]));
  }

  /** Locks the row until the transaction ends: writers of one policy take turns. */
  async lock(tx: Tx, policyId: string): Promise<StoredPolicy | null> {
    const rows = await tx.query<PolicyRow>(
      `SELECT ${COLUMNS} FROM policies WHERE policy_id = $1 FOR UPDATE`,
      [policyId],
    );
    return rows[0] ? toStored(rows[0]) : null;
  }

  /** False when a concurrent transaction created the policy first. */
  async insert(tx: Tx, p: StoredPolicy): Promise<boolean> {
    const rows = await tx.query<{ policy_id: string }>(
      `INSERT INTO policies (${COLUMNS}) VALUES ($1, $2, $3::jsonb, $4, $5, $6)
       ON CONFLICT (policy_id) DO NOTHING RETURNING policy_id`,
      [p.policyId, p.namespace, JSON.stringify(p.doc), p.revision, p.created, p.modified],
    );
    return rows.length === 1;
  }

  async update(tx: Tx, p: StoredPolicy): Promise<void> {
    await tx.query(
      `UPDATE policies SET doc = $2::jsonb, revision = $3, modified_at = $4 WHERE policy_id = $1`,
      [p.policyId, JSON.stringify(p.doc), p.revision, p.modified],
    );
  }

  /** Readers and imports go with it (ON DELETE CASCADE). */
  async remove(tx: Tx, policyId: string): Promise<void> {
    await tx.query('DELETE FROM policies WHERE policy_id = $1', [policyId]);
  }

  async replaceReaders(tx: Tx, policyId: string, readers: readonly ReaderSummary[]): Promise<void> {
    await tx.query('DELETE FROM policy_readers WHERE policy_id = $1', [policyId]);
    if (readers.length === 0) return;
    await tx.query(
      `INSERT INTO policy_readers (policy_id, subject, reads_some, reads_all, revokes_some)
       SELECT $1, r.subject, r."readsSome", r."readsAll", r."revokesSome"
       FROM json_to_recordset($2::json) AS r(subject text, "readsSome" boolean, "readsAll" boolean, "revokesSome" boolean)`,
      [policyId, JSON.stringify(readers)],
    );
  }

  async replaceImports(tx: Tx, policyId: string, importedIds: readonly string[]): Promise<void> {
    await tx.query('DELETE FROM policy_imports WHERE policy_id = $1', [policyId]);
    if (importedIds.length === 0) return;
    await tx.query(
      `INSERT INTO policy_imports (policy_id, imported_policy_id) SELECT $1, unnest($2::text[])`,
      [policyId, importedIds],
    );
  }

  /** The policies that import this one, each locked: their readers are recomputed with it. */
  async lockImporters(tx: Tx, policyId: string): Promise<StoredPolicy[]> {
    const rows = await tx.query<PolicyRow>(
      `SELECT ${COLUMNS} FROM policies WHERE policy_id IN
         (SELECT policy_id FROM policy_imports WHERE imported_policy_id = $1)
       ORDER BY policy_id FOR UPDATE`,
      [policyId],
    );
    return rows.map(toStored);
  }

  /** Delivered at commit only: other replicas drop their compiled copy of the policy. */
  async notifyChanged(tx: Tx, policyIds: readonly string[]): Promise<void> {
    for (const id of new Set(policyIds)) await tx.query(`SELECT pg_notify('${POLICY_CHANNEL}', $1)`, [id]);
  }
}
