// Kubernetes resource quantities ("500m", "2", "128Mi", "1G", "1e3") as plain numbers.

const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)$/;

/** Parses a quantity to its value in base units (cores, bytes). Throws on a malformed quantity. */
export function parseQuantity(quantity: string | number): number {
  if (typeof quantity === "number") return quantity;
  const match = QUANTITY.exec(quantity.trim());
  if (!match) throw new Error(`invalid quantity "${quantity}"`);
  return Number(match[1]) * (SUFFIX[match[2] ?? ""] ?? 1);
}

export const GiB = 2 ** 30;
export const MiB = 2 ** 20;
