// Upstream file URLs from repository-relative paths: each segment percent-encoded, so '?', '#', '%' and '+' stay part of the name.
export function upstreamBase(url: string): string {
  return url.endsWith("/") ? url : `${url}/`;
}

export function upstreamFileUrl(baseUrl: string, relativePath: string): string {
  const encoded = relativePath.split("/").map(encodeURIComponent).join("/");
  return new URL(encoded, upstreamBase(baseUrl)).toString();
}
