import { homedir } from "node:os";
import { join, resolve } from "node:path";

/** Where slmkit keeps its files: $SLMKIT_HOME, or ~/.slmkit. */
export function slmkitHome(): string {
  const configured = process.env.SLMKIT_HOME;
  return configured ? resolve(configured) : join(homedir(), ".slmkit");
}
