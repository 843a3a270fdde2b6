/** The names of a release's fixed files, shared by the writing (assemble) and reading (verify) sides. */

/** The release manifest asset (`pte-farm/release@1`). */
export const MANIFEST_ASSET = "manifest.json";
/** GNU coreutils checksums of every other asset. */
export const SUMS_ASSET = "SHA256SUMS";
/** The release body, written beside the assets in the staging folder but not uploaded. */
export const NOTES_FILE = "release-notes.md";
