/**
 * What `slmkit pull` accepts: `hf:<owner>/<repo>/<path/to/file.gguf>` (optionally `@sha256:<hex>`),
 * `hf:<owner>/<repo>:<QUANT>` (the repo's GGUF file of that quantization), or an `https://` URL
 * (optionally `@sha256:<hex>`, to verify against).
 */
import { RegistryError } from "./errors.js";
import { SHA256_HEX } from "./hashing.js";

export type ModelRef =
  | { readonly kind: "hf-file"; readonly repo: string; readonly path: string; readonly sha256?: string }
  | { readonly kind: "hf-quant"; readonly repo: string; readonly quant: string }
  | { readonly kind: "url"; readonly url: string; readonly sha256?: string };

const REPO = /^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function parseModelRef(text: string): ModelRef {
  const [body, digest] = splitDigest(text.trim());
  if (body.startsWith("https://") || body.startsWith("http://")) {
    let url: URL;
    try {
      url = new URL(body);
    } catch {
      throw bad(text, "not a valid URL");
    }
    return { kind: "url", url: url.href, ...(digest && { sha256: digest }) };
  }
  if (!body.startsWith("hf:")) throw bad(text, "use a catalog name (slmkit catalog lists them), hf:<owner>/<repo>/<file.gguf>, hf:<owner>/<repo>:<QUANT> or an https:// URL");
  const rest = body.slice(3);
  const quant = /^([^:]+):([A-Za-z0-9_]+)$/.exec(rest);
  if (quant) {
    if (!REPO.test(quant[1]!)) throw bad(text, `'${quant[1]}' is not owner/repo`);
    if (digest) throw bad(text, "a digest names one file: give the file's path, not a quantization");
    return { kind: "hf-quant", repo: quant[1]!, quant: quant[2]!.toUpperCase() };
  }
  const parts = rest.split("/");
  const repo = parts.slice(0, 2).join("/");
  const path = parts.slice(2).join("/");
  if (!REPO.test(repo) || path === "") throw bad(text, "expected hf:<owner>/<repo>/<file.gguf>");
  if (parts.slice(2).some((part) => part === "" || part === "." || part === "..")) throw bad(text, "the file path has an empty, '.' or '..' part");
  if (!/\.gguf$/i.test(path)) throw bad(text, "slmkit pulls GGUF files: the path must end in .gguf");
  return { kind: "hf-file", repo, path, ...(digest && { sha256: digest }) };
}

function splitDigest(text: string): [string, string | undefined] {
  const at = text.lastIndexOf("@sha256:");
  if (at < 0) return [text, undefined];
  const hex = text.slice(at + "@sha256:".length).toLowerCase();
  if (!SHA256_HEX.test(hex)) throw bad(text, "the digest after @sha256: must be 64 hex digits");
  return [text.slice(0, at), hex];
}

function bad(text: string, why: string): RegistryError {
  return new RegistryError("BAD_REF", `cannot pull '${text}': ${why}`);
}

/**
 * Files of a quantization in a repo listing: `<stem>-Q4_K_M.gguf`, `<stem>.Q4_K_M.gguf`, case-insensitive;
 * single files when there are, else the first parts of split ones (`<stem>-Q4_K_M-00001-of-00003.gguf`).
 */
export function filesForQuant(files: readonly string[], quant: string): string[] {
  const escaped = quant.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const single = new RegExp(`(^|[-_./])${escaped}\\.gguf$`, "i");
  const firstPart = new RegExp(`(^|[-_./])${escaped}-00001-of-\\d{5}\\.gguf$`, "i");
  const singles = files.filter((file) => single.test(file));
  return singles.length > 0 ? singles : files.filter((file) => firstPart.test(file));
}
