// slmkit as a library: each stage's public face. The CLI (src/cli) is built on exactly these.
export * as engine from "./engine/index.js";
export * as gguf from "./gguf/index.js";
export * as quant from "./quant/index.js";
export * as registry from "./registry/index.js";
export * as server from "./server/index.js";
export * as synth from "./synth/index.js";
