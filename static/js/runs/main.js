// `/runs/` (docs/dashboard.md, "All runs"): every run the user may see, its table kept live by the
// page's one socket.

import { sharedSocket } from "../gamification/index.js";
import { mountIndicator } from "../dashboard/indicator.js";
import { mountAllRuns } from "./rows.js";

const config = JSON.parse(document.getElementById("runs-config").textContent);
const socket = sharedSocket({ url: config.socketUrl || undefined });

mountIndicator(document.getElementById("connection"), { socket });
const runs = mountAllRuns(document.getElementById("runs"), { socket, config, counter: document.getElementById("runs-count") });

window.conductor = { socket, config, runs };
