// Import cycles are refused between files and between folders: the folders of src/ are layers
// (docs/design.md, "Layout"), and a layer only imports the ones below it.
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "files must not import each other in a cycle",
      from: {},
      to: { circular: true },
    },
    {
      name: "no-circular-folders",
      severity: "error",
      comment: "folders of src/ must not import each other in a cycle",
      scope: "folder",
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    exclude: { path: "^(dist|node_modules)/" },
  },
};
