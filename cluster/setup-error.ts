/** A mistake of the set-up (a missing program, a port range in use, a folder in use): printed as its one sentence, without a stack. */
export class SetupError extends Error {}
