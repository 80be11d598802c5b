import { publishedQuantBytes } from "../../fit/index.js";
import { availableQuants, CATALOG, chooseQuant } from "../../registry/index.js";
import type { Command } from "../args.js";
import { formatBytes, formatCount } from "../format.js";

export const catalogCommand: Command = {
  name: "catalog",
  summary: "List the models `slmkit pull <name>` knows: size class, licence, context, quantizations, and what would fit here.",
  positionals: "",
  details: "The last column is the quantization `slmkit pull <name>` picks on this device now (free memory, 4k context).",
  options: [{ name: "json", kind: "boolean", description: "print the catalog as JSON, with this device's choice per model" }],
  async run({ values }) {
    const rows = CATALOG.map((model) => ({ model, choice: chooseQuant(model, undefined, undefined, publishedQuantBytes) }));
    if (values.json === true) {
      console.log(JSON.stringify(rows.map(({ model, choice }) => ({ ...model, choice })), null, 2));
      return;
    }
    const width = Math.max(...CATALOG.map((model) => model.id.length));
    console.log(`${"NAME".padEnd(width)}  PARAMS   CLASS   LICENCE        CONTEXT  QUANTS                          HERE`);
    for (const { model, choice } of rows) {
      console.log(
        `${model.id.padEnd(width)}  ${formatCount(model.parameters).padEnd(7)}  ${model.class.padEnd(6)}  ${model.license.padEnd(13)}  ${String(model.contextLength).padStart(7)}  ${availableQuants(model).join(",").padEnd(30)}  ${choice.quant} (${formatBytes(choice.estimatedBytes)})`,
      );
    }
  },
};
