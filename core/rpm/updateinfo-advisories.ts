// The advisories of an updateinfo.xml, read as data from its decompressed chunks: each <update>'s type attribute and its
// <id>, <title> and <severity> (notify's sync.changed lists the new ones). Bounded: a long text is cut, a huge count refused.
import { ChantalError } from "../errors.js";
import { decodeEntities, attributesOf, XmlTokenizer } from "./xml-tokens.js";

export interface Advisory {
  id: string;
  type: string | null;
  severity: string | null;
  title: string | null;
}

/** More advisories than this in one document is not an updateinfo.xml we read (RHEL's has a few tens of thousands). */
export const MAX_ADVISORIES = 500_000;
/** Longer titles are cut (a title is one line for people). */
const MAX_FIELD_CHARS = 300;

/** A string of our own (not a view of the chunk it was sliced from: see DESIGN.md "Never keep a string read out of a big text"). */
function ownCopy(s: string): string {
  return Buffer.from(s, "utf8").toString("utf8");
}

function field(text: string): string | null {
  const t = decodeEntities(text).replace(/\s+/g, " ").trim();
  if (t === "") return null;
  return ownCopy(t.length > MAX_FIELD_CHARS ? `${t.slice(0, MAX_FIELD_CHARS - 1)}…` : t);
}

const FIELDS = new Set(["id", "title", "severity"]);

export async function readAdvisories(chunks: AsyncIterable<Buffer | string>, label: string): Promise<Advisory[]> {
  const tokenizer = new XmlTokenizer(label, 1024 * 1024);
  const out: Advisory[] = [];
  // The open elements' names; an advisory's own fields are children of <update>.
  const stack: string[] = [];
  let current: Advisory | null = null;
  let text = "";
  const take = (tokens: ReturnType<XmlTokenizer["feed"]>) => {
    for (const t of tokens) {
      if (t.kind === "start") {
        if (t.name === "update" && stack.at(-1) === "updates") {
          const type = attributesOf(t.raw).get("type");
          current = { id: "", type: type ? field(type) : null, severity: null, title: null };
        }
        stack.push(t.name ?? "");
        text = "";
      } else if (t.kind === "end") {
        const name = stack.pop();
        const parent = stack.at(-1);
        if (current && parent === "update" && name && FIELDS.has(name)) {
          const v = field(text);
          if (name === "id") current.id = v ?? "";
          else if (name === "title") current.title = v;
          else current.severity = v;
        }
        if (name === "update" && parent === "updates" && current) {
          if ((current as Advisory).id !== "") out.push(current);
          if (out.length > MAX_ADVISORIES) throw new ChantalError(`${label}: more than ${MAX_ADVISORIES} advisories; not read`);
          current = null;
        }
        text = "";
      } else if (t.kind === "text" || t.kind === "cdata") {
        if (current && FIELDS.has(stack.at(-1) ?? "") && stack.at(-2) === "update" && text.length < MAX_FIELD_CHARS * 4)
          text += t.kind === "cdata" ? t.raw.slice(9, -3) : t.raw;
      }
    }
  };
  // A character split between two chunks is decoded whole.
  const decoder = new TextDecoder("utf-8");
  for await (const chunk of chunks) take(tokenizer.feed(typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true })));
  take(tokenizer.feed(decoder.decode()));
  take(tokenizer.end());
  return out;
}
