// The proxy variables a test's CLI environment clears, so that the machine's own proxy settings never reach a test.
export const NO_PROXY_VARS = {
  HTTP_PROXY: undefined,
  http_proxy: undefined,
  HTTPS_PROXY: undefined,
  https_proxy: undefined,
  NO_PROXY: undefined,
  no_proxy: undefined,
  ALL_PROXY: undefined,
  all_proxy: undefined,
};
