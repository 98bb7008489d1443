import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from "yaml";

/** A path into a manifest document, e.g. ["spec", "ports", 0, "host"]. */
export type FieldPath = readonly (string | number)[];

export interface Position {
  line: number;
  col: number;
}

/** Finds where a field is written; `key` points at the field's name rather than its value. */
export type Locator = (path: FieldPath, target?: "key" | "value") => Position;

/**
 * Builds a locator for one parsed document. A path that does not exist in the
 * text (a defaulted or missing field) resolves to the closest written ancestor.
 */
export function createLocator(doc: Document, lineCounter: LineCounter): Locator {
  const at = (offset: number | undefined): Position => lineCounter.linePos(offset ?? 0);
  const documentStart = (doc.contents as Node | null)?.range?.[0] ?? doc.range?.[0] ?? 0;

  return (path, target = "value") => {
    let node = doc.contents as unknown;
    let best: number = documentStart;
    for (let i = 0; i < path.length; i++) {
      const segment = path[i]!;
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
        if (!pair) return at(best);
        const keyStart = (pair.key as Node).range?.[0];
        if (last && target === "key") return at(keyStart);
        best = keyStart ?? best;
        node = pair.value;
        const valueStart = (node as Node | null)?.range?.[0];
        if (last && valueStart !== undefined) return at(valueStart);
      } else if (isSeq(node)) {
        const item = node.items[Number(segment)] as Node | undefined;
        if (!item) return at(best);
        best = item.range?.[0] ?? best;
        node = item;
      } else {
        return at(best);
      }
    }
    return at(best);
  };
}
