import { publishedQuantBytes } from "../../fit/index.js";
import { hubEndpoint, ModelStore, pull, type PullEvent } from "../../registry/index.js";
import { type Command, UsageError } from "../args.js";
import { formatBytes } from "../format.js";
import { withInterruptHandler } from "../interrupt.js";

export const pullCommand: Command = {
  name: "pull",
  summary: "Download a GGUF model into the store, verified by its SHA-256 and resumable; offline-first.",
  positionals: "<ref>",
  details:
    "Refs: a catalog name (qwen3:4b, phi4-mini:3.8b, gemma3:1b ...: `slmkit catalog`), hf:<owner>/<repo>/<file.gguf> (optionally @sha256:<hex>), hf:<owner>/<repo>:<QUANT> (that quantization's\n" +
    "file from the repo), or an https:// URL (optionally @sha256:<hex>). A model already in the store is\n" +
    "answered without touching the network. An interrupted pull (Ctrl-C, a dropped connection, a killed\n" +
    "process) resumes where it stopped when run again. A file that fails verification never enters the store.\n" +
    "Environment: HF_TOKEN (gated repos), SLMKIT_HF_ENDPOINT or HF_ENDPOINT (a mirror), SLMKIT_OFFLINE=1, SLMKIT_HOME.",
  options: [
    { name: "name", kind: "string", description: "the store name (default hf.co/<owner>/<repo>:<file stem>, or the URL's file stem)" },
    { name: "quant", kind: "string", valueName: "TYPE", description: "for a catalog name: the quantization (default: the most faithful that fits this device's free memory with a 4k context)" },
    { name: "offline", kind: "boolean", description: "never use the network: succeed only if the model is already in the store" },
    { name: "json", kind: "boolean", description: "print progress and the result as JSON lines on stdout" },
  ],
  examples: ["slmkit pull qwen3:4b                 # the quantization that fits this device", "slmkit pull hf:Qwen/Qwen3-0.6B-GGUF/Qwen3-0.6B-Q8_0.gguf", "slmkit pull hf:unsloth/Qwen3-4B-GGUF:Q4_K_M --name qwen3:4b"],
  async run({ positionals, values }) {
    const [ref, ...rest] = positionals;
    if (ref === undefined || rest.length > 0) throw new UsageError("give exactly one ref, e.g. hf:<owner>/<repo>/<file.gguf>");
    const json = values.json === true;
    const store = new ModelStore();
    const abort = new AbortController();
    const show = json ? (event: PullEvent) => console.log(JSON.stringify(event)) : progressPrinter();
    const { manifest, downloaded } = await withInterruptHandler(
      () => abort.abort(),
      () =>
        pull(store, ref, {
          name: values.name as string | undefined,
          quant: values.quant as string | undefined,
          quantSize: publishedQuantBytes,
          offline: values.offline === true || process.env.SLMKIT_OFFLINE === "1",
          token: process.env.HF_TOKEN || undefined,
          endpoint: hubEndpoint(),
          onEvent: show,
          signal: abort.signal,
        }),
    ).catch((error: unknown) => {
      if (abort.signal.aborted) {
        process.stderr.write("\nslmkit pull: interrupted; run the same command again to resume\n");
        process.exit(130);
      }
      throw error;
    });
    if (!json) console.log(`${manifest.name}  ${formatBytes(manifest.size)}  ${manifest.digest}${downloaded ? "" : "  (already in the store)"}`);
  },
};

/** Progress on a terminal: one line rewritten in place; elsewhere, a line per step. */
function progressPrinter(): (event: PullEvent) => void {
  const tty = process.stderr.isTTY;
  let started = 0;
  let last = 0;
  return (event) => {
    if (event.type === "chosen") process.stderr.write(`${event.model}: ${event.reason}\n`);
    else if (event.type === "resolved") process.stderr.write(`pulling ${event.file}${event.size !== undefined ? ` (${formatBytes(event.size)})` : ""}\n`);
    else if (event.type === "waiting" || event.type === "retry") process.stderr.write(`${event.type === "retry" ? `retrying in ${(event.waitMs / 1000).toFixed(1)} s: ` : ""}${event.reason}\n`);
    else if (event.type === "progress" && tty) {
      const now = performance.now();
      if (started === 0) started = now;
      if (now - last < 100 && event.bytes !== event.total) return;
      last = now;
      const rate = (event.bytes - event.resumedFrom) / Math.max((now - started) / 1000, 1e-3);
      const total = event.total ?? 0;
      const eta = rate > 0 && total > 0 ? `, ${Math.ceil((total - event.bytes) / rate)} s left` : "";
      const percent = total > 0 ? `${((event.bytes / total) * 100).toFixed(1)}% ` : "";
      process.stderr.write(`\r\x1b[K${percent}${formatBytes(event.bytes)}${total > 0 ? ` of ${formatBytes(total)}` : ""} at ${formatBytes(rate)}/s${eta}`);
    } else if (event.type === "verified" && tty) process.stderr.write(`\r\x1b[Kverified sha256:${event.sha256}\n`);
  };
}
