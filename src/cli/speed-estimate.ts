/** Speed estimates from this device's measured rates, kept in $SLMKIT_HOME/device-rates.json (measured when missing). */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { deviceIdentity, type DeviceProfile, estimateSpeed, keptRates, neededRates, type SpeedEstimate, type TokenWork } from "../fit/index.js";
import { slmkitHome } from "../registry/index.js";

export async function speedEstimate(work: TokenWork, device: DeviceProfile, refresh: boolean, quiet: boolean): Promise<SpeedEstimate> {
  const home = slmkitHome();
  mkdirSync(home, { recursive: true });
  const rates = await keptRates(neededRates(work), {
    file: join(home, "device-rates.json"),
    identity: deviceIdentity(device),
    refresh,
    scratch: home,
    onProgress: (message) => {
      if (!quiet || process.stderr.isTTY) process.stderr.write(`${message}…\n`);
    },
  });
  return estimateSpeed(work, rates);
}


export function speedLine(estimate: SpeedEstimate): string {
  const approximate = estimate.approximated.length > 0 ? ` (${estimate.approximated.join(", ")} not measurable here: given the slowest measured rate)` : "";
  return `speed on this CPU (estimated): ~${estimate.generationTokensPerSecond.toFixed(1)} tokens/s generating, ~${estimate.promptTokensPerSecond.toFixed(0)} tokens/s reading a prompt${approximate}`;
}

