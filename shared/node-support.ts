// Which Node.js versions iotbuf runs on is the project's decision, stated once in package.json
// ("engines": ">=20.15") and in the README. The AWS SDK prints a NodeVersionSupportWarning in every
// process on Node < 22 because *its* releases after January 2027 will need Node 22; the versions
// package-lock.json pins support Node 20, so on a version we support the notice is noise in our
// logs and test output. The SDK's own switch turns it off (AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED);
// a user who sets it to anything (say "false") keeps their choice. Upgrading the SDK past the
// January 2027 releases means moving the floor to 22, here and in "engines".
export const NODE_FLOOR_MAJOR = 20

export function acceptOurNodeFloor(): void {
  const major = Number(process.versions.node.split('.')[0])
  if (major >= NODE_FLOOR_MAJOR) process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
}
