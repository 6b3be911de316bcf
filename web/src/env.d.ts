/// <reference types="vite/client" />
/** package.json's version, put in by web/vite.config.ts. */
declare const __CELLSTATE_VERSION__: string;
