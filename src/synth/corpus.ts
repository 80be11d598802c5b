/**
 * Text the synthetic tokenizers are trained on: written for slmkit, so it carries no one else's
 * licence. It mixes plain prose, dialogue, numbers, code-like lines and punctuation so that the
 * learned merges cover what tests and demos type.
 */
export const TOKENIZER_CORPUS = `Once upon a time, in a small town by the sea, there lived a girl who liked to build boats.
Every morning she walked to the harbor with her father. They looked at the water, the birds and the sky.
"Can we sail today?" she asked. Her father smiled and said, "Not today. The wind is too strong."
She was sad, but she did not give up. She found a piece of wood, a string and an old cloth.
By the evening she had made a little boat. It was not big, but it was hers, and it could float.
The next day the wind was calm. She put the boat on the water and watched it go.
The boat went far, past the rocks and the old tower, until it was only a white dot.
She laughed and ran home to tell her mother what she had seen.
The model reads a prompt, one token at a time, and writes the next token that it thinks is likely.
A small language model can run on a laptop, a phone or an edge box without a network.
To serve many users at once, the server keeps several sequences in one context and decodes them together.
Quantization stores each weight with fewer bits: eight, five, four, or even less than two.
The question is always the same: how much quality do we lose, and how much speed and memory do we win?
We measure it. We write the numbers down. We do not guess.
Here is a list: one, two, three, four, five, six, seven, eight, nine, ten.
Numbers like 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 32, 64, 128, 256, 512, 1024 and 2048 appear often.
The user said: "Hello! How are you today?" The assistant answered: "I am fine, thank you. How can I help?"
What is the capital of France? Paris is the capital of France.
Write a short poem about the moon. The moon is round, the moon is bright, it keeps the sea awake at night.
function add(a, b) { return a + b; }
const result = add(2, 3); // result is 5
if (x > 0 && y < 10) { print("inside"); } else { print("outside"); }
def greet(name): return "Hello, " + name + "!"
for i in range(10): print(i * i)
{"name": "slmkit", "version": "0.1.0", "models": ["llama", "qwen3"], "ok": true}
The cat sat on the mat. The dog ran in the park. The sun was warm and the grass was green.
They played together all day long, and when the night came, they were tired and happy.
Good morning! Good night! Thank you very much. You are welcome. See you tomorrow.
`;
