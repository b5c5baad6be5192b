/** A 4xx with a message for the sender (and headers such as Retry-After); the app's error handler sends it as { error }. */
export class Refusal extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}
