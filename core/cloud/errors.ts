// Errors of the AWS side (EventBridge Scheduler, the config bucket): exit 1 with a message that says what to do.
import { ChantalError } from "../errors.js";

export class CloudError extends ChantalError {}
