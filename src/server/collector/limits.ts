/**
 * Events per minute per project: a token bucket per project, refilled
 * continuously, as deep as a minute's allowance (bursts up to that are fine).
 * Per-IP request limits are @fastify/rate-limit's; this one needs the body's
 * projectId and its event count, so it runs in the route.
 */
export class ProjectLimits {
  private readonly buckets = new Map<number, { tokens: number; at: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Takes `events` from the project's bucket: 0 if allowed, else the seconds until they would be. */
  take(projectId: number, events: number, perMinute: number): number {
    const now = this.now();
    const rate = perMinute / 60_000;
    const bucket = this.buckets.get(projectId) ?? { tokens: perMinute, at: now };
    bucket.tokens = Math.min(perMinute, bucket.tokens + (now - bucket.at) * rate);
    bucket.at = now;
    this.buckets.set(projectId, bucket);
    // A request larger than the whole allowance costs a full bucket (else it could never pass).
    const cost = Math.min(events, perMinute);
    if (cost <= bucket.tokens) {
      bucket.tokens -= cost;
      return 0;
    }
    return Math.max(1, Math.ceil((cost - bucket.tokens) / rate / 1000));
  }
}
