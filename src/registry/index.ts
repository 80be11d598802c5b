// The registry stage: where models live on this machine. (The store, pulls and catalog come with the registry issue.)
export { slmkitHome } from "./home.js";
