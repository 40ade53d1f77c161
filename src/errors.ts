/** A mistake the user can fix: printed as one clear line, exit 1, no stack trace. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}
