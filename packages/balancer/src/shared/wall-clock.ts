/**
 * The scheduler's clock against wall time: Redis and the replicas' messages carry wall-clock epoch
 * ms (every replica reads the same), events carry the scheduler's clock (injectable, so a replay
 * gives the same result). The offset is read at each conversion, so a clock that drifts from the
 * wall is followed.
 */
export function toWall(t: number, clock: () => number): number {
  return t + (Date.now() - clock());
}

/** A wall-clock epoch ms on the scheduler's clock. */
export function fromWall(wall: number, clock: () => number): number {
  return wall + (clock() - Date.now());
}
