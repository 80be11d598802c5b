/**
 * The per-tensor choices of llama-quantize's mixtures (Q4_K_M and friends): which tensor gets which
 * type, by the tensor's role, its layer's position and the model's shape. The rules are those of
 * llama.cpp's llama_tensor_get_type for the presets slmkit offers (no importance matrix), written as
 * tables: a role's rules are tried in order, and the first one for this preset that names a type
 * decides (a rule may decline by answering undefined).
 */

/** A tensor's role, from its name: what the mixture rules key on. */
export type TensorRole =
  | "output"
  | "token_embd"
  | "attn_qkv"
  | "attn_kv_b"
  | "attn_v"
  | "attn_k"
  | "attn_q"
  | "attn_output"
  | "ffn_up"
  | "ffn_gate"
  | "ffn_down"
  | "other";

/** First match wins, in this order (attn_qkv before attn_k: "attn_qkv.weight" contains neither). */
const ROLE_PATTERNS: ReadonlyArray<[TensorRole, (name: string) => boolean]> = [
  ["output", (name) => name === "output.weight"],
  ["token_embd", (name) => name === "token_embd.weight" || name === "per_layer_token_embd.weight"],
  ["attn_qkv", (name) => name.includes("attn_qkv.weight")],
  ["attn_kv_b", (name) => name.includes("attn_kv_b.weight")],
  ["attn_v", (name) => name.includes("attn_v.weight")],
  ["attn_k", (name) => name.includes("attn_k.weight")],
  ["attn_q", (name) => name.includes("attn_q.weight")],
  ["attn_output", (name) => name.includes("attn_output.weight")],
  ["ffn_up", (name) => name.includes("ffn_up")],
  ["ffn_gate", (name) => name.includes("ffn_gate")],
  ["ffn_down", (name) => name.includes("ffn_down")],
];

export function tensorRole(name: string): TensorRole {
  return ROLE_PATTERNS.find(([, matches]) => matches(name))?.[0] ?? "other";
}

/** Roles that act like attn_v: small, and more sensitive to quantization. */
export function isValueRole(role: TensorRole): boolean {
  return role === "attn_v" || role === "attn_qkv" || role === "attn_kv_b";
}

/** What the rules may look at. */
export interface MixtureContext {
  readonly preset: string;
  readonly architecture: string;
  /** Query heads per KV head (grouped-query attention factor) of layer 0; 0 when unknown. */
  readonly gqa: number;
  readonly experts: number;
  /** llama.cpp's "70B" model type, which gives attn_v more bits. */
  readonly is70B: boolean;
  /** For value roles: this tensor's index among them, and their count. */
  readonly valueIndex: number;
  readonly valueCount: number;
  /** For ffn roles: the layer index and layer count. */
  readonly layer: number;
  readonly layers: number;
}

interface Rule {
  readonly presets: readonly string[];
  /** The new type, or undefined to keep the one chosen so far. */
  readonly type: (context: MixtureContext) => string | undefined;
}

const div = (a: number, b: number): number => Math.trunc(a / b);

/** llama.cpp gives more bits to the first and last eighth of layers and every third one between. */
export function useMoreBits(index: number, count: number): boolean {
  return index < div(count, 8) || index >= div(7 * count, 8) || (index - div(count, 8)) % 3 === 2;
}

const falcon = (c: MixtureContext): boolean => c.architecture === "falcon";

const RULES: Partial<Record<TensorRole, readonly Rule[]>> = {
  attn_v: [
    { presets: ["Q2_K"], type: (c) => (c.gqa >= 4 ? "Q4_K" : "Q3_K") },
    { presets: ["Q3_K_M"], type: (c) => (c.valueIndex < 2 ? "Q5_K" : "Q4_K") },
    { presets: ["Q3_K_L"], type: () => "Q5_K" },
    { presets: ["Q4_K_M", "Q5_K_M"], type: (c) => (useMoreBits(c.valueIndex, c.valueCount) ? "Q6_K" : undefined) },
    { presets: ["Q4_K_S"], type: (c) => (c.valueIndex < 4 ? "Q5_K" : undefined) },
  ],
  attn_k: [{ presets: ["*"], type: (c) => (c.experts === 8 ? "Q8_0" : undefined) }],
  ffn_down: [
    { presets: ["Q2_K"], type: () => "Q3_K" },
    { presets: ["Q3_K_M"], type: (c) => (c.layer < div(c.layers, 16) ? "Q5_K" : !falcon(c) || useMoreBits(c.layer, c.layers) ? "Q4_K" : "Q3_K") },
    { presets: ["Q3_K_L"], type: (c) => (falcon(c) ? "Q4_K" : "Q5_K") },
    {
      presets: ["Q4_K_M"],
      type: (c) =>
        falcon(c)
          ? c.layer < div(c.layers, 16)
            ? "Q6_K"
            : useMoreBits(c.layer, c.layers)
              ? "Q5_K"
              : "Q4_K"
          : useMoreBits(c.layer, c.layers)
            ? "Q6_K"
            : undefined,
    },
    { presets: ["Q5_K_M"], type: (c) => (useMoreBits(c.layer, c.layers) ? "Q6_K" : undefined) },
    { presets: ["Q4_K_S"], type: (c) => (!falcon(c) && c.layer < div(c.layers, 8) ? "Q5_K" : undefined) },
  ],
  attn_output: [
    { presets: ["Q2_K", "Q3_K_S", "Q3_K_M", "Q4_K_S", "Q4_K_M"], type: (c) => (!falcon(c) && c.experts === 8 ? "Q5_K" : undefined) },
    { presets: ["Q2_K"], type: (c) => (!falcon(c) && c.experts !== 8 ? "Q3_K" : undefined) },
    { presets: ["Q3_K_M"], type: (c) => (!falcon(c) && c.experts !== 8 ? "Q4_K" : undefined) },
    { presets: ["Q3_K_L"], type: (c) => (falcon(c) ? "Q4_K" : c.experts !== 8 ? "Q5_K" : undefined) },
  ],
  token_embd: [{ presets: ["TQ1_0", "TQ2_0"], type: () => "Q4_K" }],
};

/**
 * The mixture's type for a weight of role `role`, starting from the preset's default type. Output
 * tensors (and a token embedding that doubles as the output) get their own handling in plan.ts.
 */
export function mixtureType(role: TensorRole, defaultType: string, context: MixtureContext): string {
  const rules = RULES[isValueRole(role) ? "attn_v" : role] ?? [];
  let chosen = defaultType;
  for (const rule of rules) {
    if (!rule.presets.includes(context.preset) && !rule.presets.includes("*")) continue;
    const type = rule.type(context);
    if (type !== undefined) {
      chosen = type;
      break;
    }
  }
  if (isValueRole(role)) {
    if (context.is70B && (chosen === "Q3_K" || chosen === "Q4_K")) chosen = "Q5_K";
    if (context.experts === 8) chosen = "Q8_0";
  }
  return chosen;
}

/** Models llama.cpp classes as "70B": by architecture, layer count and whether heads are grouped. */
const SEVENTY_B: ReadonlyArray<{ architecture: string; layers: number; groupedHeads?: boolean }> = [
  { architecture: "llama", layers: 80, groupedHeads: true },
  { architecture: "qwen2", layers: 80 },
  { architecture: "deci", layers: 80 },
  { architecture: "olmo", layers: 80 },
  { architecture: "jais2", layers: 68 },
];

export function isSeventyB(architecture: string, layers: number, heads: number, kvHeads: number): boolean {
  return SEVENTY_B.some((row) => row.architecture === architecture && row.layers === layers && (row.groupedHeads === undefined || row.groupedHeads === (heads !== kvHeads)));
}
