import { enforced, type AuthContext } from '../auth/auth-context.js';
import { DomainError } from '../common/domain-error.js';
import { PolicyErrors } from '../common/errors.js';
import type { NewJournalEntry } from '../journal/journal.types.js';
import type { PolicyEnforcer } from '../policies/policy-enforcer.js';
import type { PoliciesService } from '../policies/policies.service.js';
import type { Tx } from '../persistence/transaction.js';
import { isJsonObject } from './model/json-pointer.js';
import { isValidPolicyId } from './model/thing-id.js';
import { denyCreateWith, denyWrite } from './twin-access.js';
import type { StoredThing, TwinCommand } from './twin.types.js';

/**
 * Enforcement of one batch of twin commands inside the write transaction: loads the policies the
 * commands need (only for commands that carry an AuthContext, so the ingest never pays for it),
 * vets each command, and creates the policy a new thing needs — Ditto's default policy for the
 * creating subject, or the inline `_policy` of the create body — in the same transaction.
 */
export class WriteGate {
  private readonly enforcers = new Map<string, PolicyEnforcer | null>();
  private readonly policyJournal: NewJournalEntry[] = [];

  private constructor(
    private readonly policies: PoliciesService,
    private readonly tx: Tx,
  ) {}

  /** undefined when no command of the batch carries an AuthContext: nothing to enforce. */
  static async open(
    policies: PoliciesService,
    tx: Tx,
    cmds: readonly TwinCommand[],
    current: readonly StoredThing[],
  ): Promise<WriteGate | undefined> {
    const enforced = cmds.filter((c) => c.auth !== undefined);
    if (enforced.length === 0) return undefined;
    const gate = new WriteGate(policies, tx);
    const byId = new Map(current.map((t) => [t.thingId, t]));
    const wanted = new Map<string, string>();
    for (const cmd of enforced) {
      const thing = byId.get(cmd.thingId);
      wanted.set(key(thing?.doc.policyId ?? policyIdOfNew(cmd), namespaceOf(cmd.thingId)), cmd.thingId);
      const target = policyIdSetBy(cmd);
      if (thing && target !== undefined) wanted.set(key(target, namespaceOf(cmd.thingId)), cmd.thingId);
    }
    for (const k of wanted.keys()) {
      const [policyId, namespace] = split(k);
      gate.enforcers.set(k, await policies.enforcerIn(tx, policyId, namespace));
    }
    return gate;
  }

  /** The check TwinBatch runs before a command, against the thing as the batch has it. */
  check(cmd: TwinCommand): ((current: StoredThing | null) => DomainError | undefined) | undefined {
    const auth = enforced(cmd.auth);
    if (!auth) return undefined;
    return (current) => {
      const namespace = namespaceOf(cmd.thingId);
      if (current) {
        const denied = denyWrite(cmd, this.enforcers.get(key(current.doc.policyId, namespace)) ?? null, auth);
        if (denied) return denied;
        // Moving a thing to a policy that does not exist would lock everyone out of it for good.
        const target = policyIdSetBy(cmd);
        if (
          target !== undefined &&
          target !== current.doc.policyId &&
          !this.enforcers.get(key(target, namespace))
        )
          return PolicyErrors.notFound(target, []);
        return undefined;
      }
      // Creating: a linked existing policy must let the creator write the thing.
      if (cmd.path.length > 0 || cmd.type === 'delete') return undefined;
      const enforcer = this.enforcers.get(key(policyIdOfNew(cmd), namespace));
      if (!enforcer) return undefined;
      if (inlinePolicy(cmd) !== undefined) return policyConflict(enforcer.policyId);
      return denyCreateWith(cmd.thingId, enforcer, auth);
    };
  }

  /** After `cmd` created `thing`: creates its policy unless it links an existing one (then false). */
  async created(cmd: TwinCommand, thing: StoredThing): Promise<boolean> {
    const auth = cmd.auth;
    if (!auth) return false;
    const k = key(thing.doc.policyId, thing.namespace);
    if (this.enforcers.get(k)) return false;
    const policy = inlinePolicy(cmd) ?? this.policies.defaultPolicy(thing.doc.policyId, auth.defaultSubject);
    const staged = await this.policies.stageCreate(this.tx, thing.doc.policyId, policy, {
      origin: cmd.origin,
      correlationId: cmd.correlationId,
      auth: auth satisfies AuthContext,
    });
    this.policyJournal.push(staged.journal);
    this.enforcers.set(k, staged.enforcer(thing.namespace));
    return true;
  }

  /** Journal entries of the policies created, to append with the things' own. */
  journal(): NewJournalEntry[] {
    return this.policyJournal;
  }
}

function policyIdOfNew(cmd: TwinCommand): string {
  const body = cmd.type === 'delete' ? undefined : cmd.value;
  if (isJsonObject(body) && typeof body.policyId === 'string') return body.policyId;
  return cmd.policyIdIfCreated ?? cmd.thingId;
}

/** The (valid) policyId an update writes, if it writes one; validation answers an invalid one. */
function policyIdSetBy(cmd: TwinCommand): string | undefined {
  if (cmd.type === 'delete') return undefined;
  let id: unknown;
  if (cmd.path.length === 1 && cmd.path[0] === 'policyId') id = cmd.value;
  else if (cmd.path.length === 0 && isJsonObject(cmd.value)) id = cmd.value.policyId;
  return typeof id === 'string' && isValidPolicyId(id) ? id : undefined;
}

function inlinePolicy(cmd: TwinCommand): unknown {
  if (cmd.type === 'delete' || cmd.path.length > 0 || !isJsonObject(cmd.value)) return undefined;
  return cmd.value._policy;
}

function policyConflict(policyId: string): DomainError {
  return new DomainError(
    409,
    'policies:policy.conflict',
    `The Policy with ID '${policyId}' already exists.`,
    "Leave out '_policy' to link the existing Policy, or choose another policyId.",
  );
}

function namespaceOf(thingId: string): string {
  return thingId.slice(0, thingId.indexOf(':'));
}

const key = (policyId: string, namespace: string): string => `${namespace}\u0000${policyId}`;

function split(k: string): [policyId: string, namespace: string] {
  const at = k.indexOf('\u0000');
  return [k.slice(at + 1), k.slice(0, at)];
}
