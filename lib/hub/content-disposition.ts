// The Content-Disposition of a download, the same whether the hub streams the bytes or redirects to
// a presigned S3 URL (which the store signs with this value as ResponseContentDisposition).

/** `attachment` saves the file; `inline` lets a browser show it (model.json). */
export type DispositionType = "attachment" | "inline";

/**
 * `type; filename="…"` with an ASCII fallback name (quotes, backslashes, slashes and non-ASCII
 * characters replaced by `_`), plus RFC 5987 `filename*=UTF-8''…` when the fallback differs.
 */
export function formatContentDisposition(type: DispositionType, filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\/]/g, "_");
  if (ascii === filename) return `${type}; filename="${ascii}"`;
  const encoded = encodeURIComponent(filename).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `${type}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
