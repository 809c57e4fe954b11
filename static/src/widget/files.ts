/** The channel's attachment limits, checked before anything is uploaded; the
 * server enforces them again (reference §2.4). */
import { format, type Texts } from "./i18n";

export interface FileRules {
  enabled: boolean;
  maxSizeMb: number;
  types: string[];
}

export function matchesType(mimeType: string, allowed: string[]): boolean {
  if (!allowed.length) return true;
  return allowed.some((pattern) =>
    pattern.endsWith("/*") ? mimeType.startsWith(pattern.slice(0, -1)) : pattern === mimeType,
  );
}

/** Why the file cannot be sent, or null when it can. */
export function fileProblem(file: { size: number; type: string }, rules: FileRules, t: Texts): string | null {
  if (file.size > rules.maxSizeMb * 1024 * 1024) return format(t.fileTooBig, { n: rules.maxSizeMb });
  if (!matchesType(file.type, rules.types)) return t.fileType;
  return null;
}
