// The part of the WebAssembly JS API slmkit uses. Node.js has all of it, but its type definitions
// (for Node 20) do not declare it, and TypeScript's own copy comes only with the DOM library.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
}
