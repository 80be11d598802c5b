#!/usr/bin/env node
// slmkit's command. The native engine decodes on a libuv worker thread (so HTTP work overlaps the
// decode), one decode at a time; with libuv's default of 4 workers consecutive decodes land on different
// threads, and generation measured ~15% slower than on one (BENCHMARKS.md, "Serving"). libuv sizes its
// pool when it first queues work, and loading an ES module already does: hence this CommonJS entry,
// which asks for one worker (unless the environment says otherwise) before importing anything.
"use strict";
if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = "1";
import("../dist/src/cli/main.js");
