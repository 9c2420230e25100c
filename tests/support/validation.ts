import { ValidationError } from "../../src/errors.js";

/** The message of the ValidationError `action` throws; fails the test when it throws none. */
export function validationMessage(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (error instanceof ValidationError) return error.message;
    throw error;
  }
  throw new Error("expected a validation error");
}
