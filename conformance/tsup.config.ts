import { packageConfig } from '../tsup.base';

export default packageConfig(["src/index.ts","src/vitest.ts","src/infra.ts"]);
