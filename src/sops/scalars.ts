import { AgebootError } from "../errors.js";
import { scalar, type ScalarType, type SopsScalar } from "./tree.js";

/**
 * Go's number and time texts, as sops writes them into the MAC and into
 * decrypted output. JavaScript's own formatting differs (exponents, "-0",
 * "Infinity"), so each is written out here.
 */

/** The decimal digits and decimal-point position of a finite non-zero number's shortest round-trip form. */
function shortestDigits(value: number): { digits: string; point: number } {
  const [mantissa = "", exponent = "0"] = Math.abs(value).toExponential().split("e");
  const digits = mantissa.replace(".", "").replace(/0+$/, "") || "0";
  return { digits, point: Number(exponent) + 1 };
}

function specialFloat(value: number): string | null {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return null;
}

/** strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent (the MAC form of a float). */
export function goFloatText(value: number): string {
  const special = specialFloat(value);
  if (special !== null) return special;
  const sign = value < 0 || Object.is(value, -0) ? "-" : "";
  if (value === 0) return `${sign}0`;
  const { digits, point } = shortestDigits(value);
  if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${"0".repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** strconv.FormatFloat(v, 'g', -1, 64): what yaml.v3 writes for a float (before its .inf/.nan spelling). */
export function goFloatG(value: number): string {
  const special = specialFloat(value);
  if (special !== null) return special;
  if (value === 0) return Object.is(value, -0) ? "-0" : "0";
  const sign = value < 0 ? "-" : "";
  const { digits, point } = shortestDigits(value);
  const exponent = point - 1;
  if (exponent < -4 || exponent >= 21 || exponent >= 6) {
    const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const magnitude = Math.abs(exponent).toString().padStart(2, "0");
    return `${sign}${mantissa}e${exponent < 0 ? "-" : "+"}${magnitude}`;
  }
  return goFloatText(value);
}

/** strconv.ParseFloat for the forms sops writes and users type (decimal, exponent, inf, nan). */
export function parseGoFloat(text: string): number | null {
  if (/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(text)) return Number(text);
  const lower = text.toLowerCase();
  if (/^[+]?inf(inity)?$/.test(lower)) return Number.POSITIVE_INFINITY;
  if (/^-inf(inity)?$/.test(lower)) return Number.NEGATIVE_INFINITY;
  if (lower === "nan") return Number.NaN;
  return null;
}

/** strconv.Atoi: optional sign, decimal digits, within int64. Returns the canonical decimal text. */
export function parseGoInt(text: string): string | null {
  if (!/^[+-]?\d{1,30}$/.test(text)) return null;
  const value = BigInt(text);
  if (value < -(2n ** 63n) || value > 2n ** 63n - 1n) return null;
  return value.toString();
}

/** strconv.ParseBool, as True/False (sops' ToBytes spelling). */
export function parseGoBool(text: string): "True" | "False" | null {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(text)) return "True";
  if (["0", "f", "F", "FALSE", "false", "False"].includes(text)) return "False";
  return null;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** time.Time.UnmarshalText then MarshalText: RFC 3339 with nanoseconds, trailing zeros and "+00:00" folded as Go does. */
export function canonicalTime(text: string): string | null {
  const match = RFC3339.exec(text);
  if (match === null) return null;
  const [, date, clock, fraction = "", zone = "Z"] = match;
  const trimmed = fraction.replace(/0+$/, "");
  return `${date}T${clock}${trimmed ? `.${trimmed}` : ""}${zoneText(zone)}`;
}

/**
 * The additional data of the MAC: `lastmodified` parsed as RFC 3339 and
 * formatted again with Go's time.RFC3339 layout, so seconds only (a fraction
 * is dropped) and "Z" for a zero offset (stores/stores.go, sops.go).
 */
export function lastModifiedAad(text: string): string {
  const match = RFC3339.exec(text);
  if (match === null) throw new AgebootError("MALFORMED", `sops metadata "lastmodified" is not an RFC 3339 time: "${text.slice(0, 40)}"`);
  const [, date, clock, , zone = "Z"] = match;
  return `${date}T${clock}${zoneText(zone)}`;
}

function zoneText(zone: string): string {
  return zone === "Z" || zone === "+00:00" || zone === "-00:00" ? "Z" : zone;
}

/**
 * A decrypted value turned into what sops' Decrypt returns (aes/cipher.go):
 * the plaintext parsed by its type and held as its ToBytes text. A value that
 * does not parse as its type is an error, as in sops.
 */
export function typedValue(type: string, plaintext: Buffer): SopsScalar {
  const text = plaintext.toString("utf8");
  const parsed = (() => {
    switch (type) {
      case "str":
      case "bytes":
        return text;
      case "int":
        return parseGoInt(text);
      case "float": {
        const value = parseGoFloat(text);
        return value === null ? null : goFloatText(value);
      }
      case "bool":
        return parseGoBool(text);
      case "time":
        return canonicalTime(text);
      default:
        throw new AgebootError("MALFORMED", `unknown value type "${type.slice(0, 20)}"`);
    }
  })();
  if (parsed === null) throw new AgebootError("CORRUPT", `a value of type ${type} does not parse as one`);
  return { ...scalar(type as ScalarType, parsed), bytes: plaintext };
}
