/** Used by `npm start -w <service>`: installs dependencies if missing and builds, so a service can start alone. */
import { ensureBuilt, ensureDependencies } from '#devkit/provision';

ensureDependencies();
ensureBuilt();
