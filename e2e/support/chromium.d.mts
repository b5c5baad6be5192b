// Types of chromium.mjs (plain JS so that scripts/ can import it with Node 20 too).
export declare const executablePath: string | undefined;
export declare const CHROMIUM_ARGS: string[];
