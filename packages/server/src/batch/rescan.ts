/**
 * Coalesced re-reads of a directory other processes write (a store shared by replicas): a call
 * that arrives while a read is under way waits for the next one, which starts after it, so what a
 * caller sees is never older than its call, and any number of calls meanwhile cost one more read.
 */
export class Rescan {
  private running: Promise<void> = Promise.resolve();
  private next: Promise<void> | undefined;

  constructor(private readonly read: () => Promise<void>) {}

  /** A read that starts after this call (the one already queued, if any). */
  request(): Promise<void> {
    this.next ??= this.running.then(() => {
      this.next = undefined;
      const p = this.read();
      this.running = p.catch(() => undefined);
      return p;
    });
    return this.next;
  }
}
