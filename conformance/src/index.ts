export type { ConformanceTarget, FaultHooks } from "./target.js";
