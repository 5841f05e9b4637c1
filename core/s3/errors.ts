// The one error of S3 access (exit 1): its message names the s3:// URL, the endpoint when it is not AWS's, and the fix.
import { AbortedError, ChantalError, errorMessage } from "../errors.js";
import { redactUrl } from "../redact.js";

export class S3Error extends ChantalError {}

/** The parts of an AWS SDK error we read (service errors carry name/Code and the HTTP status). */
interface SdkError {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

export function httpStatusOf(err: unknown): number | undefined {
  return (err as SdkError | undefined)?.$metadata?.httpStatusCode;
}

/** True for "no such object" (HEAD answers a bare 404 NotFound, GET a NoSuchKey). */
export function isNotFound(err: unknown): boolean {
  const e = err as SdkError | undefined;
  return e?.name === "NotFound" || e?.name === "NoSuchKey" || e?.$metadata?.httpStatusCode === 404;
}

/** "NoSuchKey (HTTP 404): The specified key does not exist." */
function sdkDetail(err: unknown): string {
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : "";
  return `${e.name ?? e.Code ?? "error"}${status}: ${errorMessage(err)}`;
}

/** " at <endpoint>" when the endpoint is not AWS's, for messages (credentials in it are redacted). */
export function endpointSuffix(endpoint: string | undefined): string {
  return endpoint ? ` at ${redactUrl(endpoint)}` : "";
}

/**
 * `what` failed: the SDK's error name, HTTP status and message after it, then the endpoint when it is not
 * AWS's. When the work was aborted, the abort's reason is the error instead: it explains a failed request.
 */
export function s3ErrorOf(err: unknown, what: string, opts: { endpoint?: string | undefined; signal?: AbortSignal | undefined } = {}): Error {
  if (opts.signal?.aborted) return opts.signal.reason instanceof Error ? opts.signal.reason : new AbortedError();
  if (err instanceof S3Error) return err;
  const via = opts.endpoint ? ` (endpoint ${redactUrl(opts.endpoint)})` : "";
  return new S3Error(`${what}: ${sdkDetail(err)}${via}`, { cause: err });
}

export interface BucketCheckContext {
  bucket: string;
  region: string;
  endpoint?: string | undefined;
  /** The configuration block the bucket comes from, e.g. "storage.s3", for the fix. */
  configKey: string;
}

/** A failed HEAD of the bucket, told apart: missing, denied, in another region, unreachable. */
export function bucketCheckError(err: unknown, ctx: BucketCheckContext): S3Error {
  const via = endpointSuffix(ctx.endpoint);
  const status = httpStatusOf(err);
  if (status === 404) return new S3Error(`bucket ${ctx.bucket}${via} does not exist: check ${ctx.configKey}.bucket (and region, endpoint)`, { cause: err });
  if (status === 403)
    return new S3Error(
      `access to bucket ${ctx.bucket}${via} is denied: the credentials need s3:ListBucket on it (and s3:GetObject, s3:PutObject, s3:DeleteObject on its keys)`,
      { cause: err },
    );
  if (status === 301)
    return new S3Error(`bucket ${ctx.bucket} is not in region ${ctx.region}: set ${ctx.configKey}.region to the bucket's region`, { cause: err });
  return new S3Error(`cannot reach bucket ${ctx.bucket}${via}: ${sdkDetail(err)}`, { cause: err });
}
