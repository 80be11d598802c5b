/** The commands that look after the model store: add, list, show, rm, cp, gc, check. */
import { type Manifest, ModelStore, RegistryError } from "../../registry/index.js";
import { type Command, UsageError } from "../args.js";
import { formatBytes } from "../format.js";

const JSON_OPTION = { name: "json", kind: "boolean", description: "print the result as JSON" } as const;

function onlyOne(positionals: readonly string[], what: string): string {
  const [value, ...rest] = positionals;
  if (value === undefined || rest.length > 0) throw new UsageError(`give exactly one ${what}`);
  return value;
}

function print(json: boolean, value: unknown, text: string): void {
  console.log(json ? JSON.stringify(value, null, 2) : text);
}

export const addCommand: Command = {
  name: "add",
  summary: "Register a GGUF file from disk in the store: copied in, or with --link left where it is.",
  positionals: "<file.gguf>",
  details: "The file is hashed (SHA-256) either way; a linked model is checked for size each time it is used.",
  options: [
    { name: "name", kind: "string", description: "the store name (default: the file's stem, lower-cased, tag latest)" },
    { name: "link", kind: "boolean", description: "do not copy: the store points at the file where it is" },
    JSON_OPTION,
  ],
  examples: ["slmkit add ./qwen3-0.6b-q4_0.gguf --name qwen3:0.6b-q4_0", "slmkit add /data/models/big.gguf --link"],
  async run({ positionals, values }) {
    const manifest = await new ModelStore().add(onlyOne(positionals, "GGUF file"), { name: values.name as string | undefined, link: values.link === true });
    print(values.json === true, manifest, `${manifest.name}  ${formatBytes(manifest.size)}  ${manifest.digest}${manifest.linkedPath ? `  (linked: ${manifest.linkedPath})` : ""}`);
  },
};

export const listCommand: Command = {
  name: "list",
  summary: "List the models in the store: name, size, digest, where it came from.",
  positionals: "",
  options: [JSON_OPTION],
  async run({ values }) {
    const models = new ModelStore().list();
    if (values.json === true) return print(true, models, "");
    if (models.length === 0) return print(false, [], "The store is empty. Pull a model with 'slmkit pull <ref>' or add one with 'slmkit add <file.gguf>'.");
    const width = Math.max(...models.map((model) => model.name.length), 4);
    const lines = [`${"NAME".padEnd(width)}  ${"SIZE".padStart(10)}  DIGEST         SOURCE`];
    for (const model of models) lines.push(`${model.name.padEnd(width)}  ${formatBytes(model.size).padStart(10)}  ${model.digest.slice(7, 19)}   ${model.linkedPath ? `linked ${model.linkedPath}` : model.source.ref}`);
    print(false, models, lines.join("\n"));
  },
};

export const showCommand: Command = {
  name: "show",
  summary: "Show a stored model's manifest and the file behind it.",
  positionals: "<name>",
  options: [JSON_OPTION],
  async run({ positionals, values }) {
    const { manifest, path } = new ModelStore().resolve(onlyOne(positionals, "model name"));
    const text = [`name     ${manifest.name}`, `file     ${path}`, `size     ${formatBytes(manifest.size)} (${manifest.size} bytes)`, `digest   ${manifest.digest}`, `source   ${manifest.source.kind} ${manifest.source.ref}`, `added    ${manifest.createdAt}`].join("\n");
    print(values.json === true, { ...manifest, path }, text);
  },
};

export const rmCommand: Command = {
  name: "rm",
  summary: "Remove a model's name from the store (its file goes at the next gc if nothing else uses it).",
  positionals: "<name>",
  options: [JSON_OPTION],
  async run({ positionals, values }) {
    const name = onlyOne(positionals, "model name");
    if (!new ModelStore().remove(name)) throw new RegistryError("NOT_FOUND", `no model '${name}' in the store; 'slmkit list' shows what is there`);
    print(values.json === true, { removed: name }, `removed ${name}`);
  },
};

export const cpCommand: Command = {
  name: "cp",
  summary: "Give a stored model a second name (no copy of the file).",
  positionals: "<source> <destination>",
  options: [JSON_OPTION],
  async run({ positionals, values }) {
    const [source, destination, ...rest] = positionals;
    if (source === undefined || destination === undefined || rest.length > 0) throw new UsageError("give a source and a destination name");
    const copy: Manifest = new ModelStore().copy(source, destination);
    print(values.json === true, copy, `${copy.name} → ${copy.digest}`);
  },
};

export const gcCommand: Command = {
  name: "gc",
  summary: "Delete files no stored model uses, and abandoned partial downloads.",
  positionals: "",
  details: "Files younger than an hour stay (a pull or create may be about to name them) unless --now is given.",
  options: [{ name: "now", kind: "boolean", description: "no grace period: also delete unused files made in the last hour" }, JSON_OPTION],
  async run({ values }) {
    const report = new ModelStore().gc(values.now === true ? 0 : undefined);
    print(values.json === true, report, `removed ${report.removedBlobs.length} unused file(s), ${formatBytes(report.freedBytes)}, and ${report.removedPartials} partial download(s)`);
  },
};

export const checkCommand: Command = {
  name: "check",
  summary: "Check that every stored model's file is there and of its size; exit 1 naming the problems.",
  positionals: "",
  options: [JSON_OPTION],
  async run({ values }) {
    const store = new ModelStore();
    const problems = store.check();
    print(values.json === true, { models: store.list().length, problems }, problems.length === 0 ? `${store.list().length} model(s), all files present` : problems.join("\n"));
    return problems.length === 0 ? 0 : 1;
  },
};
