export { createApp, type App, type AppAddresses } from './app.js'
export { loadConfig, parseConfig, type Config } from './config/load.js'
export * from './errors.js'
