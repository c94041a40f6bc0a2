/**
 * AUTO_CREATE_PER_MINUTE: how many things devices may create per minute. A device's first
 * readings reach several batches before the one that creates its thing has committed (batches
 * overlap, and a failed one is retried), and each of them finds the thing missing: it must still
 * count as one creation, or a fleet onboarding well under the limit gets refused. So the budget
 * counts distinct thing ids within the minute.
 */
export class CreationBudget {
  private windowStart = -Infinity;
  private readonly paid = new Set<string>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether devices may create `thingId` now; asking again for it within the minute costs nothing. */
  take(thingId: string): boolean {
    const now = this.now();
    if (now - this.windowStart >= 60_000) {
      this.windowStart = now;
      this.paid.clear();
    }
    if (this.paid.has(thingId)) return true;
    if (this.paid.size >= this.perMinute) return false;
    this.paid.add(thingId);
    return true;
  }
}
