/**
 * Ollama's Modelfile (https://github.com/ollama/ollama/blob/main/docs/modelfile.md): one instruction
 * per line (FROM, PARAMETER, TEMPLATE, SYSTEM, MESSAGE, LICENSE, ADAPTER), values bare, "quoted", or
 * """triple-quoted""" across lines; `#` starts a comment line.
 */
import { RegistryError } from "./errors.js";
import { checkParameter, checkTemplate, type ConfigMessage, type ModelConfig } from "./model-config.js";

export interface Modelfile {
  readonly from: string;
  readonly config: ModelConfig;
}

export function parseModelfile(text: string): Modelfile {
  let from: string | undefined;
  const parameters: Record<string, number | readonly string[]> = {};
  const messages: ConfigMessage[] = [];
  let system: string | undefined;
  let template: string | undefined;
  let license: string | undefined;
  const source = text.replace(/\r\n/g, "\n");
  let offset = 0;
  const lineAt = (at: number): number => source.slice(0, at).split("\n").length;
  let fail = (why: string): RegistryError => new RegistryError("BAD_REF", `Modelfile: ${why}`);
  while (offset < source.length) {
    const lineEnd = source.indexOf("\n", offset) < 0 ? source.length : source.indexOf("\n", offset);
    const current = source.slice(offset, lineEnd).trim();
    if (current === "" || current.startsWith("#")) {
      offset = lineEnd + 1;
      continue;
    }
    const line = lineAt(offset);
    fail = (why) => new RegistryError("BAD_REF", `Modelfile line ${line}: ${why}`);
    const keyword = /^\s*(\S+)[ \t]*/.exec(source.slice(offset, lineEnd))!;
    const instruction = keyword[1]!.toUpperCase();
    // The value may run over several lines (triple quotes): it is read from the text after the keyword.
    // MESSAGE's text follows its role, and may itself be """triple-quoted""" across lines.
    const role = instruction === "MESSAGE" ? /^(\S+)[ \t]*/.exec(source.slice(offset + keyword[0].length, lineEnd)) : null;
    const valueStart = offset + keyword[0].length + (role ? role[0].length : 0);
    const read = readValue(source.slice(valueStart), fail);
    const value = role ? `${role[1]} ${read.value}` : read.value;
    const consumed = read.consumed;
    const afterValue = valueStart + consumed;
    const end = source.indexOf("\n", afterValue) < 0 ? source.length : source.indexOf("\n", afterValue);
    if (source.slice(afterValue, end).trim() !== "") throw fail(`unexpected text after the value: '${source.slice(afterValue, end).trim()}'`);
    offset = end + 1;
    switch (instruction) {
      case "FROM":
        from = value;
        break;
      case "PARAMETER": {
        const [name, ...words] = value.split(/\s+/);
        const raw = unquote(words.join(" "));
        if (!name || raw === "") throw fail("PARAMETER needs a name and a value");
        const checked = withLine(() => checkParameter(name, raw), fail);
        parameters[name] = name === "stop" ? [...((parameters.stop as readonly string[] | undefined) ?? []), ...(checked as readonly string[])] : checked;
        break;
      }
      case "TEMPLATE":
        template = withLine(() => checkTemplate(value), fail);
        break;
      case "SYSTEM":
        system = value;
        break;
      case "LICENSE":
        license = license === undefined ? value : `${license}\n\n${value}`;
        break;
      case "MESSAGE": {
        const [role, ...words] = value.split(/\s+/);
        if (role !== "system" && role !== "user" && role !== "assistant") throw fail(`MESSAGE role must be system, user or assistant (got '${role}')`);
        if (words.length === 0) throw fail("MESSAGE needs a role and a text");
        messages.push({ role, content: value.slice(role.length + 1) });
        break;
      }
      case "ADAPTER":
        throw fail("ADAPTER (LoRA adapters) is not supported by slmkit yet");
      default:
        throw fail(`unknown instruction '${keyword[1]}'; a Modelfile has FROM, PARAMETER, TEMPLATE, SYSTEM, MESSAGE, LICENSE`);
    }
  }
  if (from === undefined || from === "") throw new RegistryError("BAD_REF", "the Modelfile has no FROM line: FROM names the model to start from (a store name, a GGUF path or an hf: ref)");
  const config: ModelConfig = {
    ...(system !== undefined && { system }),
    ...(template !== undefined && { template }),
    ...(Object.keys(parameters).length > 0 && { parameters }),
    ...(messages.length > 0 && { messages }),
    ...(license !== undefined && { license }),
  };
  return { from, config };
}

/** A value: """multi-line""", "one line", or the rest of the line; returns how many characters it used. */
function readValue(text: string, fail: (why: string) => RegistryError): { value: string; consumed: number } {
  if (text.startsWith('"""')) {
    const end = text.indexOf('"""', 3);
    if (end < 0) throw fail('a """ value is never closed');
    return { value: text.slice(3, end).replace(/^\n/, "").replace(/\n$/, ""), consumed: end + 3 };
  }
  const lineEnd = text.indexOf("\n") < 0 ? text.length : text.indexOf("\n");
  return { value: unquote(text.slice(0, lineEnd).trim()), consumed: lineEnd };
}

function unquote(text: string): string {
  return text.length >= 2 && text.startsWith('"') && text.endsWith('"') ? text.slice(1, -1) : text;
}

/** Runs a check, giving its refusal the Modelfile line. */
function withLine<T>(check: () => T, fail: (why: string) => RegistryError): T {
  try {
    return check();
  } catch (error) {
    throw error instanceof RegistryError ? fail(error.message) : error;
  }
}
